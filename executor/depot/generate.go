package depot

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . StepsBuilder
//counterfeiter:generate . AppLog
//counterfeiter:generate . Metrics
//counterfeiter:generate . DependencyFetcher
