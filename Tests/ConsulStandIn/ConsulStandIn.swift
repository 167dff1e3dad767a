// The in-process Consul stand-in lives here (see DESIGN.md, "Real stores, everywhere").
