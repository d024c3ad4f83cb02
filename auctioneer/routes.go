// Package auctioneer holds the auctioneer's public API: its route table and
// the JSON types of its two routes (spec core §5.1), shared by its server and
// its client (the BBS).
package auctioneer

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the auctioneer API.
const (
	CreateLRPAuctionsRoute  = "CreateLRPAuctions"
	CreateTaskAuctionsRoute = "CreateTaskAuctions"
)

// Routes is the auctioneer's one route table.
var Routes = routes.Table{
	{Name: CreateLRPAuctionsRoute, Method: http.MethodPost, Path: "/v1/lrps"},
	{Name: CreateTaskAuctionsRoute, Method: http.MethodPost, Path: "/v1/tasks"},
}

// LockName is the auctioneer's lock (/v1/locks/auctioneer); its value is a
// Presence, which is how the BBS finds the active auctioneer (spec core §5.1).
const LockName = "auctioneer"

// Presence is the value of the auctioneer's lock key.
type Presence struct {
	ID      string `json:"auctioneer_id"`
	Address string `json:"auctioneer_address"`
}
