package runner

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . BBSClient
//counterfeiter:generate . RepClient
//counterfeiter:generate . RepClientFactory
//counterfeiter:generate . Metrics
