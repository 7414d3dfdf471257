"""Department forms sent down pre-filled and taken back (一表通 "带数下发"): specifications as data
(one YAML per form in this folder), sending, returns from the community inbox, consolidation."""
