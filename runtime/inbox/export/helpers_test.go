package export_test

import "errors"

var errorsAsFn = errors.As
