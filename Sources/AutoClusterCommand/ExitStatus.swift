import ArgumentParser
import AutoCluster

/// The command's exit statuses, one documented set (the root command's `--help` lists them).
/// The numbers are the BSD `sysexits.h` ones where one fits, so scripts can tell a wrong
/// argument from a store that is down from a value that needs a human.
enum ExitStatus {
    /// Everything asked for was done; `health`: every endpoint answered.
    static let success: Int32 = 0
    /// The operation failed for another reason (the list is full, the value is too large, the
    /// lock was lost, the store does not support it).
    static let failure: Int32 = 1
    /// An argument, an option or an environment variable is wrong; nothing was contacted.
    static let usage: Int32 = 64  // EX_USAGE
    /// The stored value is not a node list (corrupt); it was left unchanged.
    static let corruptValue: Int32 = 65  // EX_DATAERR
    /// `list --raw`: nothing is stored at the key.
    static let notFound: Int32 = 66  // EX_NOINPUT
    /// The store could not be reached or failed; `health`: an endpoint is unhealthy.
    static let unavailable: Int32 = 69  // EX_UNAVAILABLE
    /// A conflict: compare-and-swap kept losing, or another live process holds the name.
    static let conflict: Int32 = 75  // EX_TEMPFAIL
    /// The store refused the credentials, or they may not read or write the key.
    static let accessDenied: Int32 = 77  // EX_NOPERM
    /// Interrupted by SIGINT before the operation completed.
    static let interrupted: Int32 = 130

    /// The status for a library error.
    static func status(for error: NodeListError) -> Int32 {
        switch error.code {
        case .invalidStoreURL, .invalidNode: usage
        case .corruptValue: corruptValue
        case .storeFailure: unavailable
        case .contention, .duplicateName: conflict
        case .accessDenied: accessDenied
        default: failure
        }
    }

    /// The text of the root command's help.
    static let helpText = """
        EXIT STATUS:
          0    success (health: every endpoint answered)
          1    the operation failed otherwise (list full, value too large, lock lost, unsupported)
          64   usage: a wrong argument, option or environment variable; nothing was contacted
          65   the stored value is not a node list; it was left unchanged (inspect it with list --raw)
          66   list --raw: nothing is stored at the key
          69   the store could not be reached or failed; health: an endpoint is unhealthy
          75   conflict: compare-and-swap kept losing, or a live process holds the name
          77   access denied: credentials refused, or not allowed on the key
          130  interrupted
          lock KEY -- COMMAND exits with COMMAND's status
        """
}
