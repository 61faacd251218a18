"""Running an artifact: engine segments and host steps, backends, prediction on image files, image I/O, drawing."""
