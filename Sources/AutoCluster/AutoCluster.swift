// AutoCluster: one import for every client and the node list.
@_exported import Consul
@_exported import Etcd
@_exported import NodeList
@_exported import ZooKeeper
