// CoordinationZooKeeper: the coordination recipes on ZooKeeper — one import for the recipes and the ZooKeeper client.
@_exported import Coordination
@_exported import ZooKeeper
