"""Bundled data sets, made on this machine: the seeded agency generator (`agency`, its words in
`agency_vocabulary`) and CDNOW from the `lifetimes` package (`cdnow`)."""
