// AutoCluster: one import for every client, the node list and the coordination recipes.
@_exported import Consul
@_exported import Coordination
@_exported import CoordinationConsul
@_exported import CoordinationEtcd
@_exported import CoordinationZooKeeper
@_exported import Etcd
@_exported import NodeList
@_exported import NodeListConsul
@_exported import NodeListEtcd
@_exported import NodeListZooKeeper
@_exported import ZooKeeper
