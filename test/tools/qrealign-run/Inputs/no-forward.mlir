// A module without @forward.
module {
}
