// CoordinationEtcd: the coordination recipes on Etcd — one import for the recipes and the Etcd client.
@_exported import Coordination
@_exported import Etcd
