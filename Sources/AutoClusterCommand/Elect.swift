import ArgumentParser
import AutoCluster
import Logging
import ServiceLifecycle

/// `autocluster elect KEY --name NAME`, as `etcdctl elect`.
struct Elect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Campaign for leadership at KEY as NAME and print the leader as it changes.",
        discussion: """
            Prints one line per change: `leader NAME token N` (or `no leader`); while this process \
            leads, the line ends with `(me)`. After a loss it campaigns again. SIGINT/SIGTERM resign. \
            With --observe it only prints the leader, without campaigning.
            """)

    @Argument(help: "The election's key, e.g. /elections/scheduler.")
    var key: String

    @Option(help: "The value this candidate campaigns with (shown as the leader's name).")
    var name: String?

    @Flag(help: "Only print the leader as it changes; do not campaign.")
    var observe = false

    @OptionGroup var options: CoordinationOptions

    func validate() throws {
        if !observe && (name ?? "").isEmpty { throw ValidationError("--name is required unless --observe is given") }
    }

    func run() async throws {
        try await runReportingErrors {
            try await options.withCoordination { store in
                let election = store.election(key, value: Array((name ?? "").utf8))
                let logger = options.logger("autocluster.elect")
                var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                    .init(service: LeaderPrinter(election: election, me: observe ? nil : name),
                          successTerminationBehavior: .gracefullyShutdownGroup)
                ]
                if !observe {
                    services.append(.init(service: LeaderService(election: election, logger: logger) { _ in
                        try await Task.sleep(for: .seconds(365 * 86400 * 100))
                    }))
                }
                let group = ServiceGroup(configuration: .init(
                    services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
                try await group.run()
            }
        }
    }
}

/// Prints the leader each time it changes.
struct LeaderPrinter: Service {
    let election: LeaderElection
    let me: String?

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            for try await leader in election.observe() {
                guard let leader else {
                    FileHandleOutput.standardOutput("no leader\n")
                    continue
                }
                let mine = me != nil && leader.string == me
                FileHandleOutput.standardOutput("leader \(leader.string) token \(leader.token)\(mine ? " (me)" : "")\n")
            }
        }
    }
}
