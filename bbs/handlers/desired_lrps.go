package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"diego/auctioneer"
	"diego/bbs"
	"diego/bbs/db"
	"diego/models"
)

func (s *Server) desiredLRPHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		bbs.DesiredLRPsRoute:                           unary(s, "desired-lrps", s.desiredLRPs),
		bbs.DesiredLRPsRoute_r2:                        unary(s, "desired-lrps-r2", s.desiredLRPsR2),
		bbs.DesiredLRPByProcessGuidRoute:               unary(s, "desired-lrp-by-process-guid", s.desiredLRPByProcessGuid),
		bbs.DesiredLRPByProcessGuidRoute_r2:            unary(s, "desired-lrp-by-process-guid-r2", s.desiredLRPByProcessGuidR2),
		bbs.DesiredLRPSchedulingInfosRoute:             unary(s, "desired-lrp-scheduling-infos", s.schedulingInfos),
		bbs.DesiredLRPSchedulingInfoByProcessGuidRoute: unary(s, "desired-lrp-scheduling-info", s.schedulingInfoByProcessGuid),
		bbs.DesiredLRPRoutingInfosRoute:                unary(s, "desired-lrp-routing-infos", s.routingInfos),
		bbs.DesireDesiredLRPRoute:                      unary(s, "desire-lrp", s.desireLRP),
		bbs.UpdateDesiredLRPRoute:                      unary(s, "update-desired-lrp", s.updateDesiredLRP),
		bbs.RemoveDesiredLRPRoute:                      unary(s, "remove-desired-lrp", s.removeDesiredLRP),
	}
}

func desiredFilter(req *models.DesiredLRPsRequest) db.DesiredLRPFilter {
	return db.DesiredLRPFilter{Domain: req.GetDomain(), ProcessGuids: req.GetProcessGuids(), AppGuids: req.GetAppGuids()}
}

func (s *Server) desiredLRPs(ctx context.Context, logger *slog.Logger, req *models.DesiredLRPsRequest, resp *models.DesiredLRPsResponse) error {
	lrps, err := s.deps.DesiredLRPs.DesiredLRPs(ctx, logger, desiredFilter(req))
	resp.DesiredLrps = lrps
	return err
}

func (s *Server) desiredLRPByProcessGuid(ctx context.Context, logger *slog.Logger, req *models.DesiredLRPByProcessGuidRequest, resp *models.DesiredLRPResponse) error {
	lrp, err := s.deps.DesiredLRPs.DesiredLRPByProcessGuid(ctx, logger, req.GetProcessGuid())
	resp.DesiredLrp = lrp
	return err
}

// The `.r2` revisions serve desired LRPs without image layers (spec core §1.2).
func (s *Server) desiredLRPsR2(ctx context.Context, logger *slog.Logger, req *models.DesiredLRPsRequest, resp *models.DesiredLRPsResponse) error {
	err := s.desiredLRPs(ctx, logger, req, resp)
	for i, d := range resp.DesiredLrps {
		resp.DesiredLrps[i] = d.VersionDownTo2()
	}
	return err
}

func (s *Server) desiredLRPByProcessGuidR2(ctx context.Context, logger *slog.Logger, req *models.DesiredLRPByProcessGuidRequest, resp *models.DesiredLRPResponse) error {
	err := s.desiredLRPByProcessGuid(ctx, logger, req, resp)
	if resp.DesiredLrp != nil {
		resp.DesiredLrp = resp.DesiredLrp.VersionDownTo2()
	}
	return err
}

func (s *Server) schedulingInfos(ctx context.Context, logger *slog.Logger, req *models.DesiredLRPsRequest, resp *models.DesiredLRPSchedulingInfosResponse) error {
	infos, err := s.deps.DesiredLRPs.DesiredLRPSchedulingInfos(ctx, logger, desiredFilter(req))
	resp.DesiredLrpSchedulingInfos = infos
	return err
}

func (s *Server) schedulingInfoByProcessGuid(ctx context.Context, logger *slog.Logger, req *models.DesiredLRPByProcessGuidRequest, resp *models.DesiredLRPSchedulingInfoByProcessGuidResponse) error {
	info, err := s.deps.DesiredLRPs.DesiredLRPSchedulingInfoByProcessGuid(ctx, logger, req.GetProcessGuid())
	resp.DesiredLrpSchedulingInfo = info
	return err
}

func (s *Server) routingInfos(ctx context.Context, logger *slog.Logger, req *models.DesiredLRPsRequest, resp *models.DesiredLRPsResponse) error {
	lrps, err := s.deps.DesiredLRPs.DesiredLRPRoutingInfos(ctx, logger, desiredFilter(req))
	resp.DesiredLrps = lrps
	return err
}

// desireLRP stores the LRP, creates an UNCLAIMED instance per index and
// sends one auction request for every index it created (spec core §2.4).
func (s *Server) desireLRP(ctx context.Context, logger *slog.Logger, req *models.DesireLRPRequest, _ *models.DesiredLRPLifecycleResponse) error {
	d := req.GetDesiredLrp()
	if err := s.deps.DesiredLRPs.DesireLRP(ctx, logger, d); err != nil {
		return err
	}
	s.startInstances(ctx, logger, d.DesiredLRPSchedulingInfo(), 0, d.GetInstances())
	return nil
}

// startInstances creates the UNCLAIMED records of indices [from, to) and
// asks for their placement; an index that already has a record is skipped.
// Failures are logged: convergence creates and auctions what is missing.
// The desired write has landed, so this follow-up does not end with the
// caller's connection.
func (s *Server) startInstances(ctx context.Context, logger *slog.Logger, info *models.DesiredLRPSchedulingInfo, from, to int32) {
	ctx = context.WithoutCancel(ctx)
	key := info.GetDesiredLrpKey()
	keys := make([]*models.ActualLRPKey, 0, max(0, to-from))
	for i := from; i < to; i++ {
		keys = append(keys, &models.ActualLRPKey{ProcessGuid: key.GetProcessGuid(), Index: i, Domain: key.GetDomain()})
	}
	lrps, err := s.deps.ActualLRPs.CreateUnclaimedActualLRPs(ctx, logger, keys)
	if err != nil {
		logger.Error("failed-creating-instances", "process_guid", key.GetProcessGuid(), "created", len(lrps), "error", err)
	}
	created := make([]int, 0, len(lrps))
	for _, lrp := range lrps {
		created = append(created, int(lrp.GetActualLrpKey().GetIndex()))
	}
	s.auctionLRP(ctx, logger, info, created...)
}

// auctionLRP sends one start request for the given indices, best effort,
// whether or not the caller is still waiting.
func (s *Server) auctionLRP(ctx context.Context, logger *slog.Logger, info *models.DesiredLRPSchedulingInfo, indices ...int) {
	ctx = context.WithoutCancel(ctx)
	if len(indices) == 0 {
		return
	}
	start := auctioneer.NewLRPStartRequestFromSchedulingInfo(info, indices...)
	if err := s.deps.Auctioneer.RequestLRPAuctions(ctx, []*auctioneer.LRPStartRequest{&start}); err != nil {
		logger.Error("failed-requesting-lrp-auction", "process_guid", start.ProcessGuid, "indices", indices, "error", err)
	}
}

// updateDesiredLRP applies the update, then starts new indices or retires
// the ones beyond the new instance count.
func (s *Server) updateDesiredLRP(ctx context.Context, logger *slog.Logger, req *models.UpdateDesiredLRPRequest, _ *models.DesiredLRPLifecycleResponse) error {
	before, after, err := s.deps.DesiredLRPs.UpdateDesiredLRP(ctx, logger, req.GetProcessGuid(), req.GetUpdate())
	if err != nil {
		return err
	}
	switch was, now := before.GetInstances(), after.GetInstances(); {
	case now > was:
		s.startInstances(ctx, logger, after, was, now)
	case now < was:
		s.retireIndices(ctx, logger, req.GetProcessGuid(), func(index int32) bool { return index >= now })
	}
	return nil
}

// removeDesiredLRP deletes the LRP and retires every one of its instances.
func (s *Server) removeDesiredLRP(ctx context.Context, logger *slog.Logger, req *models.RemoveDesiredLRPRequest, _ *models.DesiredLRPLifecycleResponse) error {
	if _, err := s.deps.DesiredLRPs.RemoveDesiredLRP(ctx, logger, req.GetProcessGuid()); err != nil {
		return err
	}
	s.retireIndices(ctx, logger, req.GetProcessGuid(), func(int32) bool { return true })
	return nil
}

// retireIndices retires the instance records of processGuid whose index
// matches; failures are logged, and convergence retires what is left. It
// follows a landed write, so it does not end with the caller's connection.
func (s *Server) retireIndices(ctx context.Context, logger *slog.Logger, processGuid string, match func(int32) bool) {
	ctx = context.WithoutCancel(ctx)
	lrps, err := s.deps.ActualLRPs.ActualLRPs(ctx, logger, db.ActualLRPFilter{ProcessGuid: processGuid})
	if err != nil {
		logger.Error("failed-listing-instances-to-retire", "process_guid", processGuid, "error", err)
		return
	}
	for _, lrp := range lrps {
		if lrp.GetPresence() != models.ActualLRP_ORDINARY || !match(lrp.GetActualLrpKey().GetIndex()) {
			continue
		}
		if err := s.retire(ctx, logger, lrp.GetActualLrpKey()); err != nil {
			logger.Error("failed-to-retire", "process_guid", processGuid, "index", lrp.GetActualLrpKey().GetIndex(), "error", err)
		}
	}
}
