// AutoCluster: one import for every client, the node list and the coordination recipes.
@_exported import Consul
@_exported import Coordination
@_exported import Etcd
@_exported import NodeList
@_exported import ZooKeeper
