// Package router is the local cluster's HTTP router (spec bridge §7,
// §9.5): it learns routes from the same NATS messages gorouter consumes,
// prunes endpoints that stop being refreshed, and proxies requests by Host
// header round-robin over the registered endpoints.
package router
