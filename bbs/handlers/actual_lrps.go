package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"diego/bbs"
	"diego/bbs/db"
	"diego/models"
)

func (s *Server) actualLRPHandlers() map[string]http.Handler {
	start := unary(s, "start-actual-lrp", s.startActualLRP)
	evacuateRunning := unary(s, "evacuate-running-actual-lrp", s.evacuateRunning)
	return map[string]http.Handler{
		bbs.ActualLRPsRoute:                          unary(s, "actual-lrps", s.actualLRPs),
		bbs.ActualLRPsByProcessGuidsRoute:            unary(s, "actual-lrps-by-process-guids", s.actualLRPsByProcessGuids),
		bbs.ActualLRPGroupsRoute:                     unary(s, "actual-lrp-groups", s.actualLRPGroups),
		bbs.ActualLRPGroupsByProcessGuidRoute:        unary(s, "actual-lrp-groups-by-process-guid", s.actualLRPGroupsByProcessGuid),
		bbs.ActualLRPGroupByProcessGuidAndIndexRoute: unary(s, "actual-lrp-group-by-index", s.actualLRPGroupByIndex),
		bbs.ClaimActualLRPRoute:                      unary(s, "claim-actual-lrp", s.claimActualLRP),
		bbs.StartActualLRPRoute:                      start,
		bbs.StartActualLRPRoute_r0:                   start,
		bbs.CrashActualLRPRoute:                      unary(s, "crash-actual-lrp", s.crashActualLRP),
		bbs.FailActualLRPRoute:                       unary(s, "fail-actual-lrp", s.failActualLRP),
		bbs.RemoveActualLRPRoute:                     unary(s, "remove-actual-lrp", s.removeActualLRP),
		bbs.RetireActualLRPRoute:                     unary(s, "retire-actual-lrp", s.retireActualLRP),
		bbs.EvacuateClaimedRoute:                     unary(s, "evacuate-claimed-actual-lrp", s.evacuateClaimed),
		bbs.EvacuateRunningRoute:                     evacuateRunning,
		bbs.EvacuateRunningRoute_r0:                  evacuateRunning,
		bbs.EvacuateStoppedRoute:                     unary(s, "evacuate-stopped-actual-lrp", s.evacuateStopped),
		bbs.EvacuateCrashedRoute:                     unary(s, "evacuate-crashed-actual-lrp", s.evacuateCrashed),
		bbs.RemoveEvacuatingRoute:                    unary(s, "remove-evacuating-actual-lrp", s.removeEvacuating),
	}
}

func (s *Server) actualLRPs(ctx context.Context, logger *slog.Logger, req *models.ActualLRPsRequest, resp *models.ActualLRPsResponse) error {
	lrps, err := s.deps.ActualLRPs.ActualLRPs(ctx, logger, db.ActualLRPFilter{
		Domain: req.GetDomain(), CellID: req.GetCellId(), ProcessGuid: req.GetProcessGuid(), Index: req.Index,
	})
	resp.ActualLrps = lrps
	return err
}

func (s *Server) actualLRPsByProcessGuids(ctx context.Context, logger *slog.Logger, req *models.ActualLRPsByProcessGuidsRequest, resp *models.ActualLRPsResponse) error {
	for _, pg := range req.GetProcessGuids() {
		lrps, err := s.deps.ActualLRPs.ActualLRPs(ctx, logger, db.ActualLRPFilter{ProcessGuid: pg})
		if err != nil {
			return err
		}
		resp.ActualLrps = append(resp.ActualLrps, lrps...)
	}
	return nil
}

// groups pairs the instance and evacuating records of each index
// (the deprecated group API), ordered by process guid and index.
func groups(lrps []*models.ActualLRP) []*models.ActualLRPGroup {
	type id struct {
		pg    string
		index int32
	}
	byID := map[id]*models.ActualLRPGroup{}
	var order []id
	for _, lrp := range lrps {
		k := id{lrp.GetActualLrpKey().GetProcessGuid(), lrp.GetActualLrpKey().GetIndex()}
		g, ok := byID[k]
		if !ok {
			g = &models.ActualLRPGroup{}
			byID[k] = g
			order = append(order, k)
		}
		if lrp.GetPresence() == models.ActualLRP_EVACUATING {
			g.Evacuating = lrp
		} else {
			g.Instance = lrp
		}
	}
	slices.SortFunc(order, func(a, b id) int {
		if c := strings.Compare(a.pg, b.pg); c != 0 {
			return c
		}
		return int(a.index - b.index)
	})
	out := make([]*models.ActualLRPGroup, 0, len(order))
	for _, k := range order {
		out = append(out, byID[k])
	}
	return out
}

func (s *Server) actualLRPGroups(ctx context.Context, logger *slog.Logger, req *models.ActualLRPGroupsRequest, resp *models.ActualLRPGroupsResponse) error {
	lrps, err := s.deps.ActualLRPs.ActualLRPs(ctx, logger, db.ActualLRPFilter{Domain: req.GetDomain(), CellID: req.GetCellId()})
	resp.ActualLrpGroups = groups(lrps)
	return err
}

func (s *Server) actualLRPGroupsByProcessGuid(ctx context.Context, logger *slog.Logger, req *models.ActualLRPGroupsByProcessGuidRequest, resp *models.ActualLRPGroupsResponse) error {
	lrps, err := s.deps.ActualLRPs.ActualLRPs(ctx, logger, db.ActualLRPFilter{ProcessGuid: req.GetProcessGuid()})
	resp.ActualLrpGroups = groups(lrps)
	return err
}

func (s *Server) actualLRPGroupByIndex(ctx context.Context, logger *slog.Logger, req *models.ActualLRPGroupByProcessGuidAndIndexRequest, resp *models.ActualLRPGroupResponse) error {
	index := req.GetIndex()
	lrps, err := s.deps.ActualLRPs.ActualLRPs(ctx, logger, db.ActualLRPFilter{ProcessGuid: req.GetProcessGuid(), Index: &index})
	if err != nil {
		return err
	}
	g := groups(lrps)
	if len(g) == 0 {
		return models.ErrResourceNotFound
	}
	resp.ActualLrpGroup = g[0]
	return nil
}

func (s *Server) claimActualLRP(ctx context.Context, logger *slog.Logger, req *models.ClaimActualLRPRequest, _ *models.ActualLRPLifecycleResponse) error {
	_, _, err := s.deps.ActualLRPs.ClaimActualLRP(ctx, logger, req.GetProcessGuid(), req.GetIndex(), req.GetActualLrpInstanceKey())
	return err
}

func (s *Server) startActualLRP(ctx context.Context, logger *slog.Logger, req *models.StartActualLRPRequest, _ *models.ActualLRPLifecycleResponse) error {
	_, _, err := s.deps.ActualLRPs.StartActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), req.GetActualLrpInternalRoutes(), req.GetMetricTags(), req.Routable, req.GetAvailabilityZone())
	return err
}

// crashActualLRP records the crash; an immediate restart is auctioned here
// (spec core §5.8).
func (s *Server) crashActualLRP(ctx context.Context, logger *slog.Logger, req *models.CrashActualLRPRequest, _ *models.ActualLRPLifecycleResponse) error {
	_, after, shouldRestart, err := s.deps.ActualLRPs.CrashActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(), req.GetErrorMessage())
	if err != nil || !shouldRestart {
		return err
	}
	s.auctionIndex(ctx, logger, after.GetActualLrpKey())
	return nil
}

// auctionIndex asks for the placement of one index of a desired LRP; the
// crash that freed it has landed, so it does not end with the caller.
func (s *Server) auctionIndex(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) {
	ctx = context.WithoutCancel(ctx)
	info, err := s.deps.DesiredLRPs.DesiredLRPSchedulingInfoByProcessGuid(ctx, logger, key.GetProcessGuid())
	if err != nil {
		logger.Error("failed-to-read-desired-lrp-for-auction", "process_guid", key.GetProcessGuid(), "error", err)
		return
	}
	s.auctionLRP(ctx, logger, info, int(key.GetIndex()))
}

func (s *Server) failActualLRP(ctx context.Context, logger *slog.Logger, req *models.FailActualLRPRequest, _ *models.ActualLRPLifecycleResponse) error {
	_, _, err := s.deps.ActualLRPs.FailActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetErrorMessage())
	return err
}

func (s *Server) removeActualLRP(ctx context.Context, logger *slog.Logger, req *models.RemoveActualLRPRequest, _ *models.ActualLRPLifecycleResponse) error {
	return s.deps.ActualLRPs.RemoveActualLRP(ctx, logger, req.GetProcessGuid(), req.GetIndex(), req.GetActualLrpInstanceKey())
}

func (s *Server) retireActualLRP(ctx context.Context, logger *slog.Logger, req *models.RetireActualLRPRequest, _ *models.ActualLRPLifecycleResponse) error {
	return s.retire(ctx, logger, req.GetActualLrpKey())
}

// retire removes an instance that is not running anywhere, or asks its rep
// to stop it and leaves the record for the rep to remove (spec core §2.2).
// It makes up to RetireActualLRPRetryAttempts attempts.
func (s *Server) retire(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) error {
	var last error
	for attempt := 1; attempt <= models.RetireActualLRPRetryAttempts; attempt++ {
		lrp, removed, err := s.deps.ActualLRPs.RetireActualLRP(ctx, logger, key)
		switch {
		case errors.Is(err, models.ErrResourceNotFound):
			return err
		case err != nil:
			last = err
			continue
		case removed:
			return nil
		}
		ik := lrp.GetActualLrpInstanceKey()
		cell, err := s.deps.Cells.CellByID(ctx, logger, ik.GetCellId())
		if errors.Is(err, models.ErrResourceNotFound) {
			// The cell is gone: nobody will remove the record but us.
			err = s.deps.ActualLRPs.RemoveActualLRP(ctx, logger, key.GetProcessGuid(), key.GetIndex(), ik)
			if err == nil || errors.Is(err, models.ErrResourceNotFound) {
				return nil
			}
			last = err
			continue
		}
		if err != nil {
			last = err
			continue
		}
		rep, err := s.deps.Reps.Rep(cell.GetRepAddress(), cell.GetRepUrl())
		if err != nil {
			return models.NewError(models.Error_UnknownError, fmt.Sprintf("reaching cell %s: %s", ik.GetCellId(), err))
		}
		if err := rep.StopLRPInstance(ctx, key.GetProcessGuid(), ik.GetInstanceGuid()); err != nil {
			last = models.NewError(models.Error_UnknownError, fmt.Sprintf("stopping instance on cell %s: %s", ik.GetCellId(), err))
			logger.Info("retry-stopping-instance", "attempt", attempt, "error", err)
			continue
		}
		return nil
	}
	return last
}

func (s *Server) evacuateClaimed(ctx context.Context, logger *slog.Logger, req *models.EvacuateClaimedActualLRPRequest, resp *models.EvacuationResponse) error {
	keep, unclaimed, err := s.deps.ActualLRPs.EvacuateClaimedActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetActualLrpInstanceKey())
	resp.KeepContainer = keep
	if err == nil && unclaimed != nil {
		s.auctionIndex(ctx, logger, unclaimed.GetActualLrpKey())
	}
	return err
}

func (s *Server) evacuateRunning(ctx context.Context, logger *slog.Logger, req *models.EvacuateRunningActualLRPRequest, resp *models.EvacuationResponse) error {
	keep, needsAuction, err := s.deps.ActualLRPs.EvacuateRunningActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(),
		req.GetActualLrpNetInfo(), time.Duration(req.GetTtl())*time.Second, req.GetActualLrpInternalRoutes(), req.GetMetricTags(),
		req.Routable, req.GetAvailabilityZone())
	resp.KeepContainer = keep
	if err == nil && needsAuction {
		s.auctionIndex(ctx, logger, req.GetActualLrpKey())
	}
	return err
}

func (s *Server) evacuateStopped(ctx context.Context, logger *slog.Logger, req *models.EvacuateStoppedActualLRPRequest, resp *models.EvacuationResponse) error {
	keep, err := s.deps.ActualLRPs.EvacuateStoppedActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetActualLrpInstanceKey())
	resp.KeepContainer = keep
	return err
}

func (s *Server) evacuateCrashed(ctx context.Context, logger *slog.Logger, req *models.EvacuateCrashedActualLRPRequest, _ *models.EvacuationResponse) error {
	// Like a plain crash, one that may restart now is auctioned now rather
	// than at the next convergence; the container is never kept.
	restart, err := s.deps.ActualLRPs.EvacuateCrashedActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetActualLrpInstanceKey(), req.GetErrorMessage())
	if err == nil && restart {
		s.auctionIndex(ctx, logger, req.GetActualLrpKey())
	}
	return err
}

func (s *Server) removeEvacuating(ctx context.Context, logger *slog.Logger, req *models.RemoveEvacuatingActualLRPRequest, _ *models.RemoveEvacuatingActualLRPResponse) error {
	return s.deps.ActualLRPs.RemoveEvacuatingActualLRP(ctx, logger, req.GetActualLrpKey(), req.GetActualLrpInstanceKey())
}
