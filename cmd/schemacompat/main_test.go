package schemacompat

import (
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
