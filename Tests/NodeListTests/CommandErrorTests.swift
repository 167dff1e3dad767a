import StoreTestSupport
import Testing

/// The command's failures that need no store: one line on stderr, non-zero exit.
@Suite struct CommandErrorTests {
    @Test(arguments: [
        ["list", "--store", "redis://127.0.0.1:1", "--key", "/a"],
        ["list", "--store", "etcd://127.0.0.1:99999", "--key", "/a"],
        ["join", "--store", "zookeeper://", "--key", "/a", "--name", "n", "--address", "127.0.0.1:1"],
        ["list", "--store", "etcd://127.0.0.1:2379", "--key", "no-leading-slash"],
    ])
    func badArgumentsFailWithOneLine(_ arguments: [String]) async throws {
        let result = try await CommandRunner.run(arguments)
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("autocluster: error: "))
        #expect(result.stdout.isEmpty)
    }

    @Test func storeDefaultsToTheEnvironment() async throws {
        // No store variable either (the test process has ZOOKEEPER_CONNECT): an empty value is unset.
        let missing = try await CommandRunner.run(["list", "--key", "/a"], environment: noStoreVariables)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("AUTOCLUSTER_STORE"))
        #expect(missing.stderrLines.count == 1)
        let bad = try await CommandRunner.run(["list", "--key", "/a"], environment: ["AUTOCLUSTER_STORE": "nope://h"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("nope://h"))
    }
}
