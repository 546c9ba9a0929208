"""Bundled data sets, made on this machine: the seeded agency generator (`agency`) and CDNOW from the
`lifetimes` package (`cdnow`)."""
