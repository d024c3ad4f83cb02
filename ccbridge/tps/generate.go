package tps

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . Receptor
//counterfeiter:generate . Doppler
//counterfeiter:generate . Subscriber
//counterfeiter:generate . EventSource
//counterfeiter:generate . CC
