"""What the service and the map read: cell views, heatmaps and vector tiles, exports, caches and
the map's query layer."""
