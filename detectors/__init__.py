"""Pure statistics: detectors take sufficient statistics and return results. No I/O."""
