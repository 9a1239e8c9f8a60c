"""Pages people look at: the satisfaction dashboard (:mod:`.dashboard`, charts from :mod:`.panels`
drawn by :mod:`.svg`) and the front page linking every generated document (:mod:`.front_page`)."""
