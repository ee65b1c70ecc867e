// placeholder: written by the work in progress on issue 2/3
