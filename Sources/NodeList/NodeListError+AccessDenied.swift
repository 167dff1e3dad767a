extension NodeListError {
    /// A store's refusal of (missing) credentials, as a `.accessDenied` that says what to pass
    /// (`advice`, from the backend's ``NodeListBackend/accessDeniedAdvice(for:)``).
    static func accessDenied(advice: String, _ what: String, store: String, underlying: any Error) -> NodeListError {
        NodeListError(code: .accessDenied, message: "\(what) — \(store): \(advice)", underlying: underlying)
    }
}
