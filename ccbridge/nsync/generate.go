package nsync

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . Receptor
//counterfeiter:generate . CC
