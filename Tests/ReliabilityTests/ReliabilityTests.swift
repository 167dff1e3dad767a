// Fault, bad-input and security tests live in this target (see the README's reliability table).
