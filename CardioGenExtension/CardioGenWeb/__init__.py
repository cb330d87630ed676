"""CardioGen in the browser (``cardiogen web``): a trame app over the Slicer modules' logic and MRML bridge, with
real Slicer views served by trame-slicer. :mod:`.session` holds the scene, the logic and the jobs (no web code);
:mod:`.app` is the page; :mod:`.lessons` the guided lessons."""
