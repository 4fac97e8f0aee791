//go:build !unix

package soak

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
