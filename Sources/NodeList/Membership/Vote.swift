/// One observer's vote against an entry, as stored in the entry's `suspectedBy`.
struct Vote: Sendable, Hashable {
    /// The observer had known the entry for longer than its grace period: the vote counts
    /// towards a removal.
    var pastGrace: Bool
    /// The observer, isolated, means to remove the entry under the survivor rule: a live entry
    /// answers by clearing the flag at its next refresh (it reads the store whatever the network
    /// between the two), which proves it alive.
    var challenge: Bool = false
}
