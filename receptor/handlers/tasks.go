package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	bbsclient "diego/bbs/client"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/models"
	"diego/receptor"
)

func (s *server) createTask(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(s.Logger, "create-task")
	var req receptor.TaskCreateRequest
	if !decode(w, r, &req) {
		return
	}
	task := receptor.TaskFromRequest(req)
	if err := task.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, receptor.InvalidTask, err.Error())
		return
	}
	if cb := req.CompletionCallbackURL; cb != "" {
		if u, err := url.ParseRequestURI(cb); err != nil || !u.IsAbs() {
			writeError(w, http.StatusBadRequest, receptor.InvalidTask,
				fmt.Sprintf("Invalid field: completion_callback_url %q is not a URI", cb))
			return
		}
	}
	err := s.BBS.DesireTask(r.Context(), task.GetTaskGuid(), task.GetDomain(), task.GetTaskDefinition())
	switch {
	case err == nil:
		w.WriteHeader(http.StatusCreated)
	case errors.Is(err, models.ErrResourceExists):
		writeError(w, http.StatusConflict, receptor.TaskGuidAlreadyExists, "task already exists")
	case errors.Is(err, models.ErrBadRequest):
		writeError(w, http.StatusBadRequest, receptor.InvalidTask, err.Error())
	default:
		logger.Error("failed-to-desire-task", "task_guid", task.GetTaskGuid(), "error", err)
		writeUnknownError(w, err)
	}
}

func (s *server) tasks(w http.ResponseWriter, r *http.Request) {
	tasks, err := s.BBS.Tasks(r.Context(), bbsclient.TaskFilter{Domain: r.URL.Query().Get("domain")})
	if err != nil {
		logging.Session(s.Logger, "tasks").Error("failed-to-list-tasks", "error", err)
		writeUnknownError(w, err)
		return
	}
	out := make([]receptor.TaskResponse, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, receptor.TaskToResponse(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func taskNotFound(w http.ResponseWriter, guid string) {
	writeError(w, http.StatusNotFound, receptor.TaskNotFound, fmt.Sprintf("task with guid '%s' not found", guid))
}

func (s *server) getTask(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "task_guid")
	task, err := s.BBS.TaskByGuid(r.Context(), guid)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, receptor.TaskToResponse(task))
	case errors.Is(err, models.ErrResourceNotFound):
		taskNotFound(w, guid)
	default:
		logging.Session(s.Logger, "get-task").Error("failed-to-get-task", "task_guid", guid, "error", err)
		writeUnknownError(w, err)
	}
}

// deleteTask resolves a completed task and deletes it.
func (s *server) deleteTask(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "task_guid")
	logger := logging.Session(s.Logger, "delete-task", "task_guid", guid)
	err := s.BBS.ResolvingTask(r.Context(), guid)
	switch {
	case err == nil:
	case errors.Is(err, models.ErrResourceNotFound):
		taskNotFound(w, guid)
		return
	case errors.Is(err, models.NewError(models.Error_InvalidStateTransition, "")):
		writeError(w, http.StatusConflict, receptor.TaskNotDeletable,
			"This task has not been completed. Please retry when it is completed.")
		return
	default:
		logger.Error("failed-to-resolve-task", "error", err)
		writeUnknownError(w, err)
		return
	}
	err = s.BBS.DeleteTask(r.Context(), guid)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, models.ErrResourceNotFound):
		taskNotFound(w, guid)
	default:
		logger.Error("failed-to-delete-task", "error", err)
		writeUnknownError(w, err)
	}
}

func (s *server) cancelTask(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "task_guid")
	err := s.BBS.CancelTask(r.Context(), guid)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, models.ErrResourceNotFound):
		taskNotFound(w, guid)
	default:
		logging.Session(s.Logger, "cancel-task").Error("failed-to-cancel-task", "task_guid", guid, "error", err)
		writeUnknownError(w, err)
	}
}
