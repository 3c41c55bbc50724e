//! users (to come).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AdminState, see_other, session_or_login};

/// The list.
pub async fn list(request: HttpRequest, admin: web::Data<AdminState>) -> HttpResponse {
    if let Err(answer) = session_or_login(&request, &admin) {
        return answer;
    }
    see_other("/admin/inbox")
}

/// One.
pub async fn one(request: HttpRequest, admin: web::Data<AdminState>) -> HttpResponse {
    list(request, admin).await
}
