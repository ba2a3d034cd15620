package dev

import (
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/deimos-cli/deimos/pkg/compat"
)

// registryInterceptors lets the dev registry enforce subjects' compatibility
// levels with deimos's own compatibility engine (srfake alone accepts all).
func registryInterceptors(reg *srfake.Registry) []srfake.Interceptor {
	return []srfake.Interceptor{compat.RegistryInterceptor(reg)}
}
