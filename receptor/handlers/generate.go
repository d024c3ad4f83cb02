package handlers

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . BBS
//counterfeiter:generate . EventSubscriber
//counterfeiter:generate . EventSource
