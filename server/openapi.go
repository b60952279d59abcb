package server

import "net/http"

func (s *Server) docsRoutes() {
	s.docsMetrics()
	s.handle("GET /openapi.json", apiSIE, true, func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, s.openAPI())
		return nil
	})
}

func (s *Server) openAPI() map[string]any { return map[string]any{"openapi": "3.1.0"} }
