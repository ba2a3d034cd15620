package admin

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// Group is one line of a group listing.
type Group struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Protocol     string `json:"protocol"`
	Members      int    `json:"members"`
	Coordinator  int32  `json:"coordinator"`
}

// ListGroups lists the consumer groups the principal may describe, with
// their state, protocol type, assignor and member count, sorted by name.
func ListGroups(ctx context.Context, adm *kadm.Client) ([]Group, error) {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, kafkaErr(err, "list groups", ACL{"DESCRIBE", "group", "*"})
	}
	out := []Group{}
	if len(listed) == 0 {
		return out, nil
	}
	described, err := adm.DescribeGroups(ctx, listed.Groups()...)
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || se.AllFailed {
			return nil, kafkaErr(err, "describe groups", ACL{"DESCRIBE", "group", "*"})
		}
	}
	for _, l := range listed.Sorted() {
		g := Group{Name: l.Group, State: l.State, ProtocolType: l.ProtocolType, Coordinator: l.Coordinator}
		if d, ok := described[l.Group]; ok && d.Err == nil {
			g.State, g.Protocol, g.Members = d.State, d.Protocol, len(d.Members)
			if d.ProtocolType != "" {
				g.ProtocolType = d.ProtocolType
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// GroupNames lists group names (for shell completion).
func GroupNames(ctx context.Context, adm *kadm.Client) ([]string, error) {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, kafkaErr(err, "list groups", ACL{"DESCRIBE", "group", "*"})
	}
	return listed.Groups(), nil
}

// DeleteGroups deletes groups with their committed offsets. Kafka refuses
// a group that still has members (NON_EMPTY_GROUP) and one it does not
// know (GROUP_ID_NOT_FOUND): each is a failure for that group (exit 1).
func DeleteGroups(ctx context.Context, adm *kadm.Client, groups []string) ([]DeleteResult, error) {
	need := make([]ACL, len(groups))
	for i, g := range groups {
		need[i] = ACL{"DELETE", "group", g}
	}
	rs, err := adm.DeleteGroups(ctx, groups...)
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || se.AllFailed {
			return nil, kafkaErr(err, "delete groups", need...)
		}
	}
	var out []DeleteResult
	failed := 0
	for _, g := range groups {
		r, ok := rs[g]
		err := r.Err
		if !ok {
			err = kerr.CoordinatorNotAvailable
		}
		if err != nil {
			cerr := kafkaErr(err, "delete group "+g, ACL{"DELETE", "group", g})
			if errs.KindOf(cerr) != errs.KindFailed {
				return out, cerr
			}
			msg := errName(err)
			switch {
			case errors.Is(err, kerr.NonEmptyGroup):
				msg = "the group has active members: stop them first"
			case errors.Is(err, kerr.GroupIDNotFound):
				msg = "no such group"
			}
			out = append(out, DeleteResult{Name: g, Status: StatusFailed, Error: msg})
			failed++
			continue
		}
		out = append(out, DeleteResult{Name: g, Status: "deleted"})
	}
	if failed > 0 {
		return out, errs.Failedf("kafka: %d of %d group(s) could not be deleted", failed, len(groups))
	}
	return out, nil
}
