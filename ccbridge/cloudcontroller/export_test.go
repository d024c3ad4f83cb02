package cloudcontroller

// NewTokens exposes the signer to the package's tests.
func NewTokens(secret, issuer string) Tokens { return Tokens{secret: []byte(secret), issuer: issuer} }
