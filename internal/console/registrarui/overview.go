package registrarui

import (
	"net/http"
	"slices"
	"time"

	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// failures are the exchange outcomes the chart counts as failures, by
// reason, in this order (RFC 8995 5.5-5.6).
var failures = []store.Outcome{store.OutcomeDenied, store.OutcomeRejected, store.OutcomeMASARefused, store.OutcomeMASAUnreachable}

func isFailure(kind string) bool { return slices.Contains(failures, store.Outcome(kind)) }

// overviewView is the overview page's data.
type overviewView struct {
	Pending     []store.Pledge
	MorePending bool
	Chart       web.BarChart
	Onboarded   int
	Failed      int
	Since       time.Time
}

// overview: GET /, the pledges waiting for a decision and the last hour's
// onboardings and failures.
func (u *ui) overview(w http.ResponseWriter, r *http.Request) error {
	page, err := u.s.ListPledges(r.Context(), store.PledgeFilter{Decision: store.DecisionPending, Limit: 10})
	if err != nil {
		return err
	}
	v := overviewView{Pending: page.Items, MorePending: page.Next != ""}
	until := u.opt.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	v.Since = until.Add(-time.Hour)
	counts, err := u.s.Activity(r.Context(), v.Since, until)
	if err != nil {
		return err
	}
	v.Chart, v.Onboarded, v.Failed = activityChart(counts, v.Since)
	return u.c.Render(w, r, web.Page{Name: "overview", Title: "Overview", Data: v})
}

// activityChart lays the counts of the hour from since out as one bar per
// minute: onboardings, then each failure reason.
func activityChart(counts []store.ActivityCount, since time.Time) (web.BarChart, int, int) {
	const minutes = 60
	ch := web.BarChart{Title: "Onboardings and failures per minute, last hour", Labels: make([]string, minutes)}
	for i := range ch.Labels {
		ch.Labels[i] = since.Add(time.Duration(i) * time.Minute).Format("15:04")
	}
	series := map[string]*web.Series{store.KindOnboarded: {Name: "onboarded", Values: make([]int, minutes)}}
	order := []string{store.KindOnboarded}
	for _, f := range failures {
		series[string(f)] = &web.Series{Name: string(f), Values: make([]int, minutes)}
		order = append(order, string(f))
	}
	onboarded, failed := 0, 0
	for _, c := range counts {
		s, ok := series[c.Kind]
		i := int(c.Minute.Sub(since) / time.Minute)
		if !ok || i < 0 || i >= minutes {
			continue
		}
		s.Values[i] += c.Count
		if c.Kind == store.KindOnboarded {
			onboarded += c.Count
		} else {
			failed += c.Count
		}
	}
	for _, k := range order {
		ch.Series = append(ch.Series, *series[k])
	}
	return ch, onboarded, failed
}
