"""What the browser carries: ``signing`` (signed values, ``Set-Cookie``, reading ``Cookie``),
``flow`` (one cookie per pending login) and ``identity`` (who is signed in)."""
