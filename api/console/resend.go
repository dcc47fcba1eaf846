package console

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"duebell/internal/input"
	"duebell/repo"
)

// resend queues a resend of notice {id} with the reason typed into the
// form, as the session's token, and shows the new notice. The form carries
// an idempotency key, so a double submit queues once. A refusal (settled,
// still queued, opted out) shows the notice again with the message.
func (c *Console) resend(w http.ResponseWriter, r *http.Request, s session) {
	lang := c.prefsOf(r).lang
	id, ok := input.PositiveInt(r.PathValue("id"), math.MaxInt64)
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, trf(lang, "There is no notice %q.", r.PathValue("id")))
		return
	}
	force := r.PostFormValue("force")
	if force != "" && force != "1" {
		c.fail(w, r, s, http.StatusBadRequest, "The form's force box is neither ticked (1) nor left empty.")
		return
	}
	form := noticeData{Reason: strings.TrimSpace(r.PostFormValue("reason")), Channel: r.PostFormValue("channel"),
		Force: force == "1"}
	if form.Reason == "" {
		c.showNotice(w, r, s, http.StatusUnprocessableEntity, id, form, "", "Type the reason for resending; it is stored in the audit trail.")
		return
	}
	res, err := c.cfg.Store.Resend(r.Context(), repo.ResendInput{ID: id, Channel: form.Channel, Reason: form.Reason,
		Actor: s.Name, Force: form.Force, IdempotencyKey: r.PostFormValue("idempotency_key"), Now: c.cfg.Now()})
	switch {
	case errors.Is(err, repo.ErrNotFound):
		c.fail(w, r, s, http.StatusNotFound, trf(lang, "There is no notice %d.", id))
		return
	case errors.Is(err, repo.ErrConflict):
		c.showNotice(w, r, s, http.StatusConflict, id, form, "", tr(lang, "Not resent:")+" "+strings.TrimSuffix(err.Error(), ": "+repo.ErrConflict.Error()))
		return
	case errors.Is(err, repo.ErrInvalid):
		c.showNotice(w, r, s, http.StatusUnprocessableEntity, id, form, "", tr(lang, "Not resent:")+" "+err.Error())
		return
	case err != nil:
		c.internal(w, r, s, err)
		return
	}
	c.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "console resend", slog.String("token", s.Name),
		slog.Int64("notification_id", id), slog.Int64("resend_id", res.Notification.ID), slog.Bool("replayed", res.Replayed))
	http.Redirect(w, r, fmt.Sprintf("/console/notifications/%d?resent=1", res.Notification.ID), http.StatusSeeOther)
}
