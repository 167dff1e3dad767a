#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif


/// The secrets the tests use, registered so that `scripts/test.sh` can check that none of them
/// appears in any log line or error text of the whole run (see ``TestLogCapture``).
///
/// With `AUTOCLUSTER_TEST_SECRETS_FILE` set, every registered secret is appended to that file,
/// one per line; without it registering does nothing. Secrets shorter than 8 characters are
/// not registered (they would match ordinary text).
public enum TestSecrets {
    private static let lock = TestMutex(())

    /// Registers `secrets` for the end-of-run scan.
    public static func register(_ secrets: [String]) {
        guard let path = TestStores.environment("AUTOCLUSTER_TEST_SECRETS_FILE") else { return }
        let lines = secrets.filter { $0.count >= 8 && !$0.contains("\n") }.map { $0 + "\n" }.joined()
        guard !lines.isEmpty else { return }
        lock.withLock { _ in
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            defer { close(fd) }
            var bytes = Array(lines.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written <= 0 { return }
                bytes = bytes.dropFirst(written)
            }
        }
    }
}
