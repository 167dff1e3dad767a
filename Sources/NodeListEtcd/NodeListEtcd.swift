// NodeListEtcd: the node list on Etcd — one import for the node list and its Etcd client.
@_exported import Etcd
@_exported import NodeList
