"""Foreign formats, translated at the edge: COCO (coco.py) and YOLO / ultralytics (yolo.py).

Nothing downstream of parsing knows these formats existed: COCO results become rows of the
detections table while a submission is read, YOLO predictions become a detections.csv.
See docs/platforms.md for the round trips.
"""
