import ArgumentParser
import AutoCluster

@main
struct AutoClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autocluster",
        abstract: "Form and keep a cluster through ZooKeeper, etcd or Consul."
    )
}
