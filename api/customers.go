package api

import (
	"net/http"
	"strings"

	"duebell/internal/input"
	"duebell/phone"
	"duebell/repo"
)

// customerBody is the PUT body. The opt-outs are pointers: leaving one out
// keeps the stored preference (false for a new customer), so a sync that does
// not know about opt-outs never re-subscribes a borrower.
type customerBody struct {
	Name        string `json:"name"`
	Phone       string `json:"phone"`
	Email       string `json:"email"`
	Locale      string `json:"locale"`
	Timezone    string `json:"timezone"`
	SMSOptOut   *bool  `json:"sms_opt_out"`
	EmailOptOut *bool  `json:"email_opt_out"`
}

func (s *server) putCustomer(w http.ResponseWriter, r *http.Request) error {
	ref, err := pathRef(r, "ref")
	if err != nil {
		return err
	}
	var b customerBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	c, err := s.customerFrom(ref, b)
	if err != nil {
		return err
	}
	// A flag left out keeps the stored one, decided in the upsert itself.
	c.KeepSMSOptOut, c.KeepEmailOptOut = b.SMSOptOut == nil, b.EmailOptOut == nil
	out, err := s.cfg.Repo.UpsertCustomer(r.Context(), c, s.cfg.Now())
	if err != nil {
		return err
	}
	writeJSON(w, createdOrOK(out.Created), out)
	return nil
}

func (s *server) customerFrom(ref string, b customerBody) (repo.Customer, error) {
	c := repo.Customer{Ref: ref, Name: strings.TrimSpace(b.Name), Locale: b.Locale, Timezone: b.Timezone,
		SMSOptOut: b.SMSOptOut != nil && *b.SMSOptOut, EmailOptOut: b.EmailOptOut != nil && *b.EmailOptOut}
	if err := checkStrings(b); err != nil {
		return c, err
	}
	if err := s.checkMessageText("name", c.Name, 200); err != nil {
		return c, err
	}
	if strings.TrimSpace(b.Phone) == "" && strings.TrimSpace(b.Email) == "" {
		return c, invalid("phone", "a phone or an email is required")
	}
	if strings.TrimSpace(b.Phone) != "" {
		p, err := phone.Normalize(b.Phone, "CN")
		if err != nil {
			return c, invalid("phone", "%s", err)
		}
		c.Phone = p
	}
	if e := strings.TrimSpace(b.Email); e != "" {
		if err := input.Email(e); err != nil {
			return c, invalid("email", "%s", err)
		}
		c.Email = strings.ToLower(e)
	}
	if c.Locale == "" {
		c.Locale = s.cfg.DefaultLocale
	}
	if !locales[c.Locale] {
		return c, invalid("locale", "want zh-CN or en")
	}
	if c.Timezone == "" {
		c.Timezone = s.cfg.DefaultTimezone
	}
	if _, err := loadTimezone(c.Timezone); err != nil {
		return c, invalid("timezone", "%s", err)
	}
	return c, nil
}

func (s *server) getCustomer(w http.ResponseWriter, r *http.Request) error {
	ref, err := pathRef(r, "ref")
	if err != nil {
		return err
	}
	c, err := s.cfg.Repo.GetCustomer(r.Context(), ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
