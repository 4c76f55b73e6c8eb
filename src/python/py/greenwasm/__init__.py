"""Guest-side support code for greenwasm (installed into site-packages at boot)."""
