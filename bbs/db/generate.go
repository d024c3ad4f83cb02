package db

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . TaskDB
//counterfeiter:generate . DesiredLRPDB
//counterfeiter:generate . ActualLRPDB
//counterfeiter:generate . DomainDB
//counterfeiter:generate . CellDB
