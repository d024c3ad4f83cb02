//go:build !linux

package cacheddownloader

const noFollow = 0
