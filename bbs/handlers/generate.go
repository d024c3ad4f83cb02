package handlers

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . Auctioneer
//counterfeiter:generate . Reps
//counterfeiter:generate . RepClient
//counterfeiter:generate . Callbacks
//counterfeiter:generate . Metrics
