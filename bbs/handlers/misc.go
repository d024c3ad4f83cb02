package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"diego/bbs"
	"diego/models"
)

func (s *Server) miscHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		bbs.PingRoute:         http.HandlerFunc(s.ping),
		bbs.DomainsRoute:      unary(s, "domains", s.domains),
		bbs.UpsertDomainRoute: unary(s, "upsert-domain", s.upsertDomain),
		bbs.CellsRoute:        unary(s, "cells", s.cells),
	}
}

// ping answers available=true: a BBS that is not ready answers 503 before
// reaching here.
func (s *Server) ping(w http.ResponseWriter, _ *http.Request) {
	writeProto(w, s.logger, &models.PingResponse{Available: true})
}

func (s *Server) domains(ctx context.Context, logger *slog.Logger, _ *emptypb.Empty, resp *models.DomainsResponse) error {
	domains, err := s.deps.Domains.FreshDomains(ctx, logger)
	resp.Domains = domains
	return err
}

func (s *Server) upsertDomain(ctx context.Context, logger *slog.Logger, req *models.UpsertDomainRequest, _ *models.UpsertDomainResponse) error {
	return s.deps.Domains.UpsertDomain(ctx, logger, req.GetDomain(), time.Duration(req.GetTtl())*time.Second)
}

func (s *Server) cells(ctx context.Context, logger *slog.Logger, _ *emptypb.Empty, resp *models.CellsResponse) error {
	cells, err := s.deps.Cells.Cells(ctx, logger)
	resp.Cells = cells
	return err
}
