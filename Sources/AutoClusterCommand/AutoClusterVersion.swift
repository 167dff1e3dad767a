/// The command's version, printed by `autocluster --version`.
///
/// The package has no release tag yet; this is its first version number. Raise it with each release.
enum AutoClusterVersion {
    static let current = "0.1.0"
}
